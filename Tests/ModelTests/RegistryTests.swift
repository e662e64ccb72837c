import Foundation
import Model
import Testing

/// The registry decides: subnets, addresses, ports and every refusal.
@Suite struct RegistryRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func fresh(host: [String] = []) throws -> Registry {
        let prefixes = try host.map { try IPv4Network.parse($0) }
        return Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: prefixes))
    }

    func create(_ registry: inout Registry, _ request: NetworkRequest, host: [String] = []) throws -> Network {
        let network = try registry.planNetwork(
            request, id: randomID(), now: now, hostPrefixes: try host.map { try IPv4Network.parse($0) })
        registry.networks.append(network)
        return network
    }

    func run(_ registry: inout Registry, _ request: ContainerRequest) throws -> (Container, Endpoint?) {
        let planned = try registry.planContainer(request, id: randomID(), now: now)
        registry.containers.append(planned.0)
        registry.endpoints += planned.1
        return (planned.0, planned.1.first)
    }

    @Test func defaultBridgeAvoidsHostRoutes() throws {
        let registry = try fresh(host: ["172.17.0.0/16", "172.18.5.0/24", "0.0.0.0/0"])
        let bridge = registry.defaultNetwork!
        #expect(bridge.subnet?.description == "172.19.0.0/16")
        #expect(bridge.gateway?.description == "172.19.0.1")
        #expect(bridge.bridgeName == "bp0")
        #expect(Set(registry.networks.map(\.name)) == ["bridge", "host", "none"])
    }

    @Test func poolsRunOutInOrder() throws {
        let all172 = (17...31).map { "172.\($0).0.0/16" }
        #expect(
            try IPAM.chooseSubnet(avoiding: all172.map { try IPv4Network.parse($0) }).description == "192.168.0.0/20")
        let everything = AddressPool.localDefaults.map(\.base) + [try IPv4Network.parse("10.0.0.0/8")]
        #expect(throws: ModelError.poolsExhausted) { try IPAM.chooseSubnet(avoiding: everything) }
    }

    @Test func userNetworkWithSubnet() throws {
        var registry = try fresh()
        let network = try create(&registry, NetworkRequest(name: "my_bridge", subnet: "10.0.0.0/24"))
        #expect(network.gateway?.description == "10.0.0.1")
        #expect(network.bridgeName == "br-" + network.id.prefix(12))
        #expect(network.userSubnet)
    }

    @Test func automaticSubnetsSkipUsedOnes() throws {
        var registry = try fresh()
        let a = try create(&registry, NetworkRequest(name: "a"))
        let b = try create(&registry, NetworkRequest(name: "b"))
        #expect(a.subnet?.description == "172.18.0.0/16")
        #expect(b.subnet?.description == "172.19.0.0/16")
    }

    @Test func refusals() throws {
        var registry = try fresh()
        _ = try create(&registry, NetworkRequest(name: "n1", subnet: "10.0.0.0/24"))
        let cases: [(NetworkRequest, ModelError)] = [
            (NetworkRequest(name: "n1"), .networkExists("n1")),
            (
                NetworkRequest(name: "n2", subnet: "10.0.0.128/25"),
                .poolOverlap(try IPv4Network.parse("10.0.0.128/25"), with: "n1")
            ),
            (
                NetworkRequest(name: "n3", subnet: "10.1.0.0/24", gateway: "10.2.0.1"),
                .invalidIP("10.2.0.1", "the gateway must be a host address of the subnet 10.1.0.0/24")
            ),
            (
                NetworkRequest(name: "n4", subnet: "10.1.0.0/24", ipRange: "10.1.1.0/28"),
                .invalidCIDR("10.1.1.0/28", "the --ip-range must lie inside the subnet 10.1.0.0/24")
            ),
            (NetworkRequest(name: "n5", driver: "host"), .singleInstanceDriver("host")),
            (
                NetworkRequest(name: "bad name"),
                .invalidName("bad name", "a network name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
            ),
            (
                NetworkRequest(name: "n6", options: ["com.docker.network.bridge.enable_icc": "maybe"]),
                .invalidOption("com.docker.network.bridge.enable_icc=maybe", "the value must be true or false")
            ),
            (
                NetworkRequest(name: "n7", options: ["com.docker.network.bridge.name": "bp0"]),
                .invalidOption("com.docker.network.bridge.name=bp0", "the bridge is already used by network bridge")
            ),
        ]
        for (request, expected) in cases {
            #expect(throws: expected) { try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: []) }
        }
    }

    @Test func addressesInOrderAndManual() throws {
        var registry = try fresh()
        _ = try create(&registry, NetworkRequest(name: "my_bridge", subnet: "10.0.0.0/24"))
        let (_, c2) = try run(&registry, ContainerRequest(name: "c2", network: "my_bridge"))
        let (_, c3) = try run(&registry, ContainerRequest(name: "c3", network: "my_bridge", ip: "10.0.0.254"))
        let (_, c4) = try run(&registry, ContainerRequest(name: "c4", network: "my_bridge"))
        #expect(c2?.ip?.description == "10.0.0.2")
        #expect(c3?.ip?.description == "10.0.0.254")
        #expect(c4?.ip?.description == "10.0.0.3")
        #expect(c2?.containerInterface == "eth0")
        #expect(c2?.mac?.description == "02:42:0a:00:00:02")
        #expect(c2?.hostInterface?.hasPrefix("veth") == true && c2?.hostInterface?.count == 11)

        #expect(throws: ModelError.addressInUse(IPv4Address(10, 0, 0, 254), network: "my_bridge")) {
            try registry.planContainer(
                ContainerRequest(name: "c5", network: "my_bridge", ip: "10.0.0.254"), id: randomID(), now: now)
        }
        #expect(throws: ModelError.addressInUse(IPv4Address(10, 0, 0, 1), network: "my_bridge")) {
            try registry.planContainer(
                ContainerRequest(name: "c5", network: "my_bridge", ip: "10.0.0.1"), id: randomID(), now: now)
        }
        #expect(throws: ModelError.addressOutsideSubnet(IPv4Address(10, 0, 1, 5), try IPv4Network.parse("10.0.0.0/24")))
        {
            try registry.planContainer(
                ContainerRequest(name: "c5", network: "my_bridge", ip: "10.0.1.5"), id: randomID(), now: now)
        }
        #expect(throws: ModelError.ipOnDefaultNetwork) {
            try registry.planContainer(ContainerRequest(name: "c5", ip: "172.17.0.9"), id: randomID(), now: now)
        }
        #expect(throws: ModelError.containerExists("c2")) {
            try registry.planContainer(ContainerRequest(name: "c2", network: "my_bridge"), id: randomID(), now: now)
        }
        #expect(throws: ModelError.networkNotFound("nope")) {
            try registry.planContainer(ContainerRequest(name: "c9", network: "nope"), id: randomID(), now: now)
        }
    }

    @Test func ipRangeAndExhaustion() throws {
        var registry = try fresh()
        _ = try create(&registry, NetworkRequest(name: "tiny", subnet: "10.9.0.0/29", ipRange: "10.9.0.4/30"))
        let (_, a) = try run(&registry, ContainerRequest(name: "a", network: "tiny"))
        let (_, b) = try run(&registry, ContainerRequest(name: "b", network: "tiny"))
        #expect(a?.ip?.description == "10.9.0.4")
        #expect(b?.ip?.description == "10.9.0.5")
        // 10.9.0.6 is the last host address; 10.9.0.7 is the broadcast address.
        _ = try run(&registry, ContainerRequest(name: "c", network: "tiny"))
        #expect(throws: ModelError.addressesExhausted(network: "tiny")) {
            try registry.planContainer(ContainerRequest(name: "d", network: "tiny"), id: randomID(), now: now)
        }
    }

    @Test func networkRemoval() throws {
        var registry = try fresh()
        _ = try create(&registry, NetworkRequest(name: "n", subnet: "10.0.0.0/24"))
        _ = try run(&registry, ContainerRequest(name: "c", network: "n"))
        #expect(throws: ModelError.networkHasEndpoints("n", ["c"])) { try registry.planRemoveNetwork("n") }
        #expect(throws: ModelError.predefinedNetwork("bridge")) { try registry.planRemoveNetwork("bridge") }
        registry.endpoints.removeAll()
        #expect(try registry.planRemoveNetwork("n").name == "n")
    }

    @Test func lookupByIDPrefix() throws {
        var registry = try fresh()
        let network = try create(&registry, NetworkRequest(name: "n"))
        #expect(try registry.network(String(network.id.prefix(6))).name == "n")
        let (container, _) = try run(&registry, ContainerRequest(name: "c"))
        #expect(try registry.container(container.shortID).name == "c")
        #expect(try registry.container("/c").id == container.id)
    }

    @Test func connectAndDisconnect() throws {
        var registry = try fresh()
        _ = try create(&registry, NetworkRequest(name: "n", subnet: "10.0.0.0/24"))
        _ = try run(&registry, ContainerRequest(name: "c"))
        let endpoint = try registry.planConnect(network: "n", container: "c", ip: "10.0.0.9")
        #expect(endpoint.containerInterface == "eth1")
        #expect(endpoint.order == 1)
        registry.endpoints.append(endpoint)
        #expect(throws: ModelError.alreadyConnected(container: "c", network: "n")) {
            try registry.planConnect(network: "n", container: "c", ip: nil)
        }
        #expect(try registry.planDisconnect(network: "n", container: "c") == endpoint)
        #expect(throws: ModelError.hostOrNoneMixed("host")) {
            try registry.planConnect(network: "host", container: "c", ip: nil)
        }
    }

    @Test func hostAndNoneHaveNoEndpointAndNoPorts() throws {
        var registry = try fresh()
        let (container, endpoint) = try run(&registry, ContainerRequest(name: "h", network: "host", ports: ["80"]))
        #expect(endpoint == nil)
        #expect(container.ports.isEmpty)
        let (_, none) = try run(&registry, ContainerRequest(name: "n", network: "none"))
        #expect(none == nil)
    }

    @Test func portAllocation() throws {
        var registry = try fresh()
        let (a, _) = try run(&registry, ContainerRequest(name: "a", ports: ["5000:80", "127.0.0.1::53/udp"]))
        #expect(a.ports[0] == PortMapping(proto: .tcp, containerPort: 80, hostIP: .any, hostPort: 5000))
        #expect(a.ports[1].hostPort == ephemeralPorts.lowerBound && a.ports[1].proto == .udp)
        #expect(throws: ModelError.portAllocated("127.0.0.1:5000")) {
            try registry.planContainer(
                ContainerRequest(name: "b", ports: ["127.0.0.1:5000:80"]), id: randomID(), now: now)
        }
        // The same port on UDP is free; a host socket holding a port is respected.
        let planned = try registry.planContainer(
            ContainerRequest(name: "b", ports: ["5000:80/udp", "6000-6002:80"]), id: randomID(), now: now,
            portInUse: { $0.port == 6000 })
        #expect(planned.0.ports.map(\.hostPort) == [5000, 6001])
    }

    @Test func allowedSources() throws {
        var registry = try fresh()
        let (container, _) = try run(&registry, ContainerRequest(name: "g", ports: ["5000:80", "5353:53/udp"]))
        var updated = try registry.planAllow(
            container: "g", hostPort: "5000", sources: ["10.0.0.0/8", "198.19.2.7"], clear: false)
        #expect(updated.allowed(hostPort: 5000, .tcp)?.map(\.description) == ["10.0.0.0/8", "198.19.2.7/32"])
        #expect(updated.allowed(hostPort: 5353, .udp) == nil)
        registry.containers = [updated]
        updated = try registry.planAllow(container: "g", hostPort: "5000/tcp", sources: [], clear: true)
        #expect(updated.allowedSources == nil)
        #expect(throws: ModelError.invalidPortSpec("5353/tcp", "container g does not publish host port 5353/tcp")) {
            try registry.planAllow(container: "g", hostPort: "5353/tcp", sources: ["10.0.0.0/8"], clear: false)
        }
        #expect(throws: ModelError.self) {
            try registry.planAllow(container: "g", hostPort: "x", sources: ["10.0.0.0/8"], clear: false)
        }
        #expect(throws: ModelError.self) {
            try registry.planAllow(container: "g", hostPort: "5000", sources: [], clear: false)
        }
        _ = container
    }
}

@Suite struct LocalNumberTests {
    @Test func numbersAreGivenOnceAndGapsReused() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        #expect(try registry.numberNetworks().map(\.localNumber) == [1, 2, 3])
        #expect(try registry.numberNetworks().isEmpty, "numbered once")
        var a = try registry.planNetwork(NetworkRequest(name: "a"), id: randomID(), now: Date(), hostPrefixes: [])
        a.localNumber = registry.unusedLocalNumber()
        registry.networks.append(a)
        #expect(a.localNumber == 4)
        registry.networks.removeAll { $0.name == "host" }
        #expect(registry.unusedLocalNumber() == 2, "a removed network's number is free again")
        #expect(registry.networks.first { $0.name == "a" }?.localNumber == 4, "the others keep theirs")
    }
}
