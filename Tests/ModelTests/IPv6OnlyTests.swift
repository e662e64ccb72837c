import Foundation
import Testing

@testable import Model

/// `network create --ipv4=false --ipv6`: Docker 28's IPv6-only networks.
@Suite struct IPv6OnlyRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func fresh() throws -> Registry {
        Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
    }

    func sixOnly(_ name: String, driver: String = "bridge", subnet6: String? = "fd00:60::/64") -> NetworkRequest {
        var request = NetworkRequest(name: name, driver: driver)
        (request.ipv4, request.ipv6, request.subnet6) = (false, true, subnet6)
        if driver == "macvlan" { request.options = [MacvlanOption.parent: "eth9"] }
        return request
    }

    func create(_ registry: inout Registry, _ request: NetworkRequest) throws -> Network {
        let network = try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: [])
        registry.networks.append(network)
        return network
    }

    func run(_ registry: inout Registry, _ request: ContainerRequest) throws -> (Container, [Endpoint]) {
        let planned = try registry.planContainer(request, id: randomID(), now: now)
        registry.containers.append(planned.0)
        registry.endpoints += planned.1
        return planned
    }

    @Test func networkHasNoIPv4() throws {
        var registry = try fresh()
        let network = try create(&registry, sixOnly("six"))
        #expect(network.subnet == nil && network.gateway == nil && network.auxAddresses == nil)
        #expect(!network.ipv4Enabled && network.ipv6?.subnet.description == "fd00:60::/64")
        // Without a subnet, a ULA /64 as for any network with IPv6.
        let automatic = try create(&registry, sixOnly("auto", subnet6: nil))
        #expect(automatic.subnet == nil && automatic.ipv6?.subnet.prefixLength == 64)
        // A second IPv6-only network takes no IPv4 pool either.
        #expect(registry.networks.filter { $0.subnet == nil && $0.driver.hasEndpoints }.count == 2)
        #expect(try fresh().networks.allSatisfy(\.ipv4Enabled))
    }

    @Test func containersGetIPv6AloneAndAMACFromIt() throws {
        var registry = try fresh()
        _ = try create(&registry, sixOnly("six"))
        let (_, endpoints) = try run(&registry, ContainerRequest(name: "a", network: "six"))
        let endpoint = try #require(endpoints.first)
        #expect(endpoint.ip == nil && endpoint.ip6?.description == "fd00:60::2")
        #expect(endpoint.mac?.description == "02:42:00:00:00:02")
        var request = ContainerRequest(name: "b", network: "six")
        request.ip6 = "fd00:60::1:7"
        let (_, second) = try run(&registry, request)
        #expect(
            second.first?.ip6?.description == "fd00:60::1:7" && second.first?.mac?.description == "02:42:00:01:00:07")
    }

    @Test func ipv4SettingsAreRefused() throws {
        var registry = try fresh()
        var neither = NetworkRequest(name: "none4")
        neither.ipv4 = false
        #expect(throws: ModelError.noAddressFamily) { try create(&registry, neither) }
        #expect(ModelError.noAddressFamily.description == "IPv4 or IPv6 must be enabled")
        for (key, value) in [("subnet", "10.1.0.0/24"), ("gateway", "10.1.0.1"), ("ipRange", "10.1.0.0/25")] {
            var request = sixOnly("x")
            switch key {
            case "subnet": request.subnet = value
            case "gateway": request.gateway = value
            default: request.ipRange = value
            }
            #expect(throws: ModelError.self) { try create(&registry, request) }
        }
        var aux = sixOnly("y")
        aux.auxAddresses = ["router=10.1.0.9"]
        #expect(throws: ModelError.noSubnetForAuxAddress("router=10.1.0.9")) { try create(&registry, aux) }
        #expect(throws: ModelError.self) { try create(&registry, sixOnly("ov", driver: "overlay")) }
        #expect(registry.networks.count == 3)  // bridge, host, none: nothing half-made

        _ = try create(&registry, sixOnly("six"))
        var request = ContainerRequest(name: "a", network: "six")
        request.ip = "10.1.0.5"
        #expect(throws: ModelError.invalidIP("10.1.0.5", "network six has no IPv4 (it was created with --ipv4=false)"))
        {
            try registry.planContainer(request, id: randomID(), now: now)
        }
    }

    @Test func portsPublishOnIPv6Only() throws {
        var registry = try fresh()
        _ = try create(&registry, sixOnly("six"))
        let (container, _) = try run(&registry, ContainerRequest(name: "web", network: "six", ports: ["8080:80"]))
        #expect(container.ports.map(\.hostIP) == [.unspecified(.ipv6)])
        #expect(container.ports.map(\.hostPort) == [8080])
        let (bracketed, _) = try run(
            &registry, ContainerRequest(name: "web2", network: "six", ports: ["[::]:8081:80"]))
        #expect(bracketed.ports.map(\.hostIP) == [.unspecified(.ipv6)])
        #expect(throws: ModelError.noIPv4ForBinding("80/tcp on 0.0.0.0")) {
            try registry.planContainer(
                ContainerRequest(name: "web3", network: "six", ports: ["0.0.0.0:8082:80"]), id: randomID(), now: now)
        }
    }

    @Test func macvlanCanBeIPv6Only() throws {
        var registry = try fresh()
        let network = try create(&registry, sixOnly("lan", driver: "macvlan"))
        #expect(network.subnet == nil)
        let (_, endpoints) = try run(&registry, ContainerRequest(name: "m", network: "lan"))
        #expect(endpoints.first?.ip == nil && endpoints.first?.ip6 != nil && endpoints.first?.linkIndex != nil)
    }
}
