import Foundation
import Model
import Store
import Testing

@Suite struct StoreTests {
    func sample() throws -> (Registry, Network, Container, Endpoint) {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let network = try registry.planNetwork(
            NetworkRequest(name: "n", subnet: "10.0.0.0/24"), id: randomID(), now: Date(), hostPrefixes: [])
        registry.networks.append(network)
        let (container, endpoint) = try registry.planContainer(
            ContainerRequest(name: "c", network: "n", ports: ["5000:80"]), id: randomID(), now: Date())
        return (registry, network, container, endpoint[0])
    }

    @Test func roundTripAcrossReopen() throws {
        let path = NSTemporaryDirectory() + "bridgeport-store-\(randomID().prefix(8)).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (registry, _, container, endpoint) = try sample()
        do {
            let store = try Store(path: path)
            try store.insert(networks: registry.networks)
            try store.insert(container: container, endpoints: [endpoint])
        }
        let loaded = try Store(path: path).load()
        #expect(Set(loaded.networks.map(\.name)) == ["bridge", "host", "none", "n"])
        #expect(loaded.containers == [container])
        #expect(loaded.endpoints == [endpoint])
        #expect(loaded.containers[0].ports[0].hostPort == 5000)
    }

    @Test func duplicateNameIsRefusedWhole() throws {
        let store = try Store(path: ":memory:")
        let (registry, _, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        var twin = container
        twin.id = randomID()
        var twinEndpoint = endpoint
        twinEndpoint.containerID = twin.id
        #expect(throws: (any Error).self) { try store.insert(container: twin, endpoints: [twinEndpoint]) }
        // Same address on the same network, different name: refused, and nothing of it stays.
        twin.name = "c2"
        #expect(throws: (any Error).self) { try store.insert(container: twin, endpoints: [twinEndpoint]) }
        #expect(try store.load().containers.count == 1)
    }

    @Test func removingAContainerRemovesItsEndpoints() throws {
        let store = try Store(path: ":memory:")
        let (registry, network, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        #expect(throws: (any Error).self) { try store.deleteNetwork(id: network.id) }  // still has an endpoint
        try store.deleteContainer(id: container.id)
        #expect(try store.load().endpoints.isEmpty)
        try store.deleteNetwork(id: network.id)
        #expect(try store.load().networks.count == 3)
    }

    @Test func updatesPersist() throws {
        let store = try Store(path: ":memory:")
        let (registry, _, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        var updated = container
        updated.process.pid = 4242
        try store.update(container: updated)
        #expect(try store.load().containers[0].process.pid == 4242)
    }
}
