import API
import Datapath
import Links
import Model
import Testing

@testable import Daemon

/// When the kernel drops link events, the agent catches up as if it had read them: what
/// went behind its back leaves the maps and the registry, a new uplink gets its program,
/// and the host's addresses are read again.
@Suite(.serialized) struct LinkEventsLostTests {
    @Test func theAgentCatchesUpWithWhatTheLostEventsSaid() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        let agent = subject.agent
        let datapath = subject.datapath
        datapath.addUplink(LinkInfo(name: "eth0", index: 2, isUp: true))
        await agent.attachNewUplinks()
        try await agent.seedContainer(ContainerRequest(name: "victim", command: ["/bin/true"]))
        try await agent.seedContainer(ContainerRequest(name: "bystander", command: ["/bin/true"]))
        try await AgentRollbackTests.chainedAdd(subject)
        let registry = await agent.registry
        let veths = try ["victim", "bystander"].map { name in
            try #require(registry.endpoints(ofContainer: try registry.container(name).id).first?.hostInterface)
        }
        #expect(datapath.entries == Set(veths + ["vethcni1"]))
        #expect(datapath.pinnedUplinks == ["eth0"])

        // A burst the agent did not hear of: the victim's and the CNI container's veths
        // deleted, eth0 gone and wg0 (a tunnel) up.
        datapath.deleteLink(veths[0])
        datapath.deleteLink("vethcni1")
        datapath.deleteLink("eth0")
        datapath.addUplink(LinkInfo(name: "wg0", index: 9, type: 0xFFFE, isUp: true))
        let refreshes = datapath.addressRefreshes
        await agent.linkEventsLost()

        #expect(datapath.entries == [veths[1]], "the gone veths' entries go, the bystander's stays")
        #expect(await agent.registry.attachments.isEmpty, "the CNI container's attachment is forgotten")
        #expect(try await agent.store.load().attachments.isEmpty)
        #expect(await agent.registry.endpoints.count == 2, "the victim runs on without its interface")
        #expect(datapath.pinnedUplinks == ["wg0"])
        #expect(datapath.addressRefreshes == refreshes + 1)
        await AgentRollbackTests.cleanUp(subject)
    }
}
