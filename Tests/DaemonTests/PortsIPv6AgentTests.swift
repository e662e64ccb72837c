import API
import Datapath
import Foundation
import Model
import Testing

@testable import Daemon

/// The agent publishing ports over IPv6: both families for a dual-stack container, allow
/// lists of either family, and refusals that leave nothing behind.
@Suite(.serialized) struct PortsIPv6AgentTests {
    static func dualStackNetwork(_ subject: AgentRollbackTests.Subject) async throws {
        var request = NetworkRequest(name: "six", subnet: "10.66.0.0/24")
        request.ipv6 = true
        request.subnet6 = "fd00:66::/64"
        _ = try await subject.agent.createNetwork(request)
    }

    @Test func dualStackContainerIsPublishedInBothFamilies() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        try await Self.dualStackNetwork(subject)
        try await subject.agent.seedContainer(
            ContainerRequest(name: "web", network: "six", ports: ["8080:80", "[::1]:9090:90/udp"], command: ["sleep"]))
        try await subject.agent.seedContainer(
            ContainerRequest(name: "old", ports: ["8081:80"], command: ["sleep"]))
        #expect(
            subject.datapath.kernel.ports == [
                HostPort(.tcp, .v4(.any), 8080), HostPort(.tcp, .v6(.any), 8080), HostPort(.udp, .v6(.loopback), 9090),
                HostPort(.tcp, .v4(.any), 8081),
            ])

        let view = try await subject.agent.allow(
            "web", AllowRequest(hostPort: "8080", sources: ["2001:db8::/64", "198.18.0.0/15"], clear: false))
        let v6 = try #require(view.container.ports.first { $0.hostIP == .v6(.any) })
        #expect(view.container.allowed(v6)?.map(\.description) == ["2001:db8::/64"])
        // Stored as given: the store reads it back.
        let stored = try #require(try await subject.agent.store.load().containers.first { $0.name == "web" })
        #expect(stored.allowedSources == view.container.allowedSources)
        await #expect(throws: ModelError.self) {
            try await subject.agent.allow(
                "old", AllowRequest(hostPort: "8081", sources: ["2001:db8::/64"], clear: false))
        }
        await AgentRollbackTests.cleanUp(subject)
    }

    @Test func ipv6BindingOfAnIPv4OnlyContainerLeavesNothingBehind() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        let before = try await subject.agent.snapshot()
        await #expect(throws: ModelError.noIPv6ForBinding("80/tcp on 2001:db8::1")) {
            _ = try await subject.agent.run(
                ContainerRequest(name: "old", ports: ["[2001:db8::1]:8080:80"], command: ["/bin/true"]))
        }
        await #expect(throws: ModelError.invalidHostIP("2001:db8::zz", reason: nil)) {
            _ = try await subject.agent.run(
                ContainerRequest(name: "bad", ports: ["[2001:db8::zz]:8080:80"], command: ["/bin/true"]))
        }
        let after = try await subject.agent.snapshot()
        #expect(after == before)
        await AgentRollbackTests.cleanUp(subject)
    }

    @Test func dockerBindingsWithAnIPv6HostIP() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        try await AgentRollbackTests.dockerNetworkAndEndpoint(subject)
        _ = try await subject.agent.dockerJoin(
            network: AgentRollbackTests.dockerNetwork, endpoint: AgentRollbackTests.dockerEndpoint,
            sandbox: subject.directory + "/sandbox")
        // The endpoint has no IPv6 address: an IPv6 HostIP is refused, nothing published.
        await #expect(throws: ModelError.self) {
            try await subject.agent.dockerPublish(
                endpoint: AgentRollbackTests.dockerEndpoint, bindings: try PortRequest.parse("[::]:8082:80"))
        }
        #expect(subject.datapath.kernel.ports.isEmpty)
        try await subject.agent.dockerPublish(
            endpoint: AgentRollbackTests.dockerEndpoint, bindings: try PortRequest.parse("8082:80"))
        #expect(subject.datapath.kernel.ports == [HostPort(.tcp, .v4(.any), 8082)])
        await AgentRollbackTests.cleanUp(subject)
    }
}
